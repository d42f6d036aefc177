"""CSV files of the directory: the dialects spreadsheets write, reading and cleaning rows,
the import and what it records in the history, the export."""
