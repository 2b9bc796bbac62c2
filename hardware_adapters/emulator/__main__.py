import sys

from hardware_adapters.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
