"""Builders shared by test folders (importable as ``support`` because pyproject's pytest
``pythonpath`` puts tests/ on sys.path; conftest.py files keep only fixtures)."""
