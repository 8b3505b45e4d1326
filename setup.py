"""Map the top-level folders onto the ``alsate.*`` namespace.

The design card keeps ``engine/``, ``tui/``, ``train/`` and ``assets/`` at the
top of the repository; installed, they are ``alsate.engine``, ``alsate.tui``,
``alsate.train`` and ``alsate.assets``. Nothing is installed as a top-level
``engine`` or ``tui`` module.
"""

from setuptools import find_packages, setup

TOP_LEVEL = ("engine", "tui", "train", "assets")

packages: list[str] = []
package_dir: dict[str, str] = {}
for folder in TOP_LEVEL:
    packages.append(f"alsate.{folder}")
    package_dir[f"alsate.{folder}"] = folder
    for sub in find_packages(folder):
        packages.append(f"alsate.{folder}.{sub}")
        package_dir[f"alsate.{folder}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
