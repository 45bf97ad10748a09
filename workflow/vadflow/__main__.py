"""``python -m vadflow``: how rules run the CLI (see :func:`vadflow.config.cli_command`)."""
import sys

from vadflow.cli import main

sys.exit(main())
