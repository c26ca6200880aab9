import kata
import os

config = os.environ.get('CONFIG', os.path.dirname(os.path.realpath(__file__)) + '/../config/dev.yaml')
kata.initialize(config)
app = kata.config.app()

import myproject.routes
