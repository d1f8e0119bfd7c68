import sys

from weather_mmm.cli import main

sys.exit(main())
