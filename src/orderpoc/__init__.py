"""orderpoc: provision, inspect, exercise and tear down a serverless order pipeline on AWS."""

__version__ = "0.1.0"
