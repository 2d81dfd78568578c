import sys

from tiny_audio.cli import main

sys.exit(main())
