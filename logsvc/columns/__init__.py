"""Insights' columnar copy (issue #11 item 7): a derived copy of the fields Logs Insights uses, in
Parquet files per log group and UTC day, read by DuckDB. See ARCHITECTURE.md, "Insights: the
columnar copy". schema.py owns what a column holds; the exact path there is the reference every
faster extractor must equal.
"""
