"""Stack settings (typed, validated once) and the program entry point `stacks.program.run`."""
