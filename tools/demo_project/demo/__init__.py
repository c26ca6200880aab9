import os

import kata

config = os.environ.get("CONFIG", os.path.dirname(os.path.realpath(__file__)) + "/../config/demo.yaml")
kata.initialize(config)
app = kata.config.app()

import demo.routes  # noqa: E402, F401 - registers the routes, after the app exists as in the guide
