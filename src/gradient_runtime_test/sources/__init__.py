"""Where a runtime's sources live: its workspace repository (git) and its container image (registry).

`git` resolves a workspace ref to a commit and lists the files at that commit; `workspace` applies
that to a matrix's workspace (a git URL or a local folder); `registry` asks a container registry
whether an image exists and for its digest; `check` turns those answers into findings for
`grt plan --check-sources`. Every edge (the git environment, the HTTP transport) is passed in.

What a run used, for callers that record or compare it:

    settings = SourceSettings.from_env(env)                          # sources.check
    commit = snapshot(url, ref, git=settings.git).commit             # the commit a ref resolved to
    digest = check_image(image, transport=settings.transport,        # the image's digest, or None
                         docker_hub_url=settings.docker_hub_url).digest
"""
