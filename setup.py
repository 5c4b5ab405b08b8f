# Thin shim: pykad builds with meson-python (see pyproject.toml and meson.build).
# `pip install .` is the supported way; this file only forwards a legacy
# `python setup.py ...` call to pip.
import subprocess
import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("install", "develop", "build", "bdist_wheel"):
        args = ["-e", "."] if sys.argv[1] == "develop" else ["."]
        sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
    sys.exit("pykad builds with meson-python: use `pip install .`")
