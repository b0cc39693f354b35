# Makes pytest put the repository root first on sys.path, so the tests
# import this checkout's mmdsb even where another copy is installed.
