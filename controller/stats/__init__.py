"""The usage statistics regional and municipal staff review: indicators, drill-down, trend, exports.

`period` says which days a figure covers, `calendar` which of them are a school's school days, `tally`
reads the rollups and counts, `report` assembles what a page or an export shows, `export` writes the
files, `schedule` writes them every two weeks. docs/statistics.md defines each indicator.
"""
