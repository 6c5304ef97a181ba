"""Entry point of `pulumi up` / `pulumi preview`: everything lives in stacks.program."""

from stacks.program import main

main()
