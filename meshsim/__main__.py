"""``python -m meshsim``: the command line."""

import sys

from meshsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
