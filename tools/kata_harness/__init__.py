"""Test harness: real PostgreSQL, Redis and memcached servers for kata's tests.

Servers named by environment variables are used as they are:

* ``KATA_TEST_POSTGRES_DSN``: a libpq connection string or URL of a role that may create
  databases;
* ``KATA_TEST_REDIS_URL``: ``redis://host:port``;
* ``KATA_TEST_MEMCACHED``: two or more ``host:port`` separated by commas.

Otherwise each server is started once per test run from the binaries on the machine, in a
temporary directory on a free loopback port, and stopped at the end of the run (or when the
test process dies). A missing binary is an error that says what to install.
"""
