"""``python -m relay.cli``: the same as ``contacts-relay``."""

import sys

from .main import main

sys.exit(main())
