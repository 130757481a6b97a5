pytest_plugins = ["tests.conftest_paperspace"]
