"""The one thing pyproject.toml cannot say: the functions' code lives at the top level in
lambda_src/ (beside src/, as Lambda sees a zip's root) and ships in the wheel as the package
`orderpoc.lambda_src`, so a pip-installed `orderpoc up` deploys the built-in pipeline."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "orderpoc.lambda_src"],
    package_dir={"": "src", "orderpoc.lambda_src": "lambda_src"},
)
