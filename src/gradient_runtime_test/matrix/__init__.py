"""The matrices: the model (`model`), YAML with line numbers (`yamlnodes`), reading with problems
collected (`reader`), one runtime file (`runtime`), the whole folder (`load`), and machines.yaml
at a git ref (`git`)."""
