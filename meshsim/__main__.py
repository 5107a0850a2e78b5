"""``python -m meshsim``."""

import sys

from .cli import main

sys.exit(main())
