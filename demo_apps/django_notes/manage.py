#!/usr/bin/env python
"""Django's command-line utility for the Notes demo (``python manage.py migrate``...)."""

import os
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    # The checkout's `onebar` package (onebar.integrations.django), when Onebar is not installed.
    sys.path.append(str(here.parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
