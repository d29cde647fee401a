# The test suite: python3 -m unittest discover -s tests -t .  (from clients/python)
