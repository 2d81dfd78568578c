import sys

from tiny_audio.live.cli import main

sys.exit(main())
