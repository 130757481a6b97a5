"""Publishing results to GitHub: context, workflow commands, PR comment, check run."""
