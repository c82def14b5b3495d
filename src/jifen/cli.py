"""The `jifen` command: operational commands, a thin wrapper around manage.py.

`jifen verify-ledger` is `manage.py verify_ledger`: dashes in the first argument become
underscores so operators can type the names the docs use.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jifen.config.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    argv[0] = "jifen"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
