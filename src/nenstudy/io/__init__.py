"""Adapters for source formats other than a folder of table files (e.g. REDCap exports).

They convert into the registry folder layout and may import :mod:`nenstudy.registry`; nothing in
:mod:`nenstudy.registry` imports from here (``io -> registry``). Folders of CSV, Parquet and XLSX
files are read by :mod:`nenstudy.registry.sources`.
"""
