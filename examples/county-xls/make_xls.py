"""Writes examples/county-xls/*.xls from examples/county/*.csv, the way a clerk's spreadsheet
holds them: counts and coordinates as numbers, birth dates as dates, ID card and phone numbers
as text. Needs `xlwt` (pip install xlwt==1.3.0); run from the repository root:

    python3 examples/county-xls/make_xls.py
"""
import csv
import datetime
import pathlib

import xlwt

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATE = xlwt.easyxf(num_format_str="YYYY-MM-DD")
NUMBER_COLUMNS = {"招生计划", "预留学位", "积分学位", "班级数", "坐标X", "坐标Y", "毕业生数"}
DATE_COLUMNS = {"出生日期"}

for table in ["applicants", "schools", "teachers"]:
    with open(ROOT / "county" / f"{table}.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet(table)
    header = rows[0]
    for c, name in enumerate(header):
        sheet.write(0, c, name)
    for r, row in enumerate(rows[1:], start=1):
        for c, value in enumerate(row):
            name = header[c]
            if value == "":
                continue
            if name in NUMBER_COLUMNS and value.lstrip("-").isdigit():
                sheet.write(r, c, int(value))
            elif name in DATE_COLUMNS:
                sheet.write(r, c, datetime.date.fromisoformat(value), DATE)
            else:
                sheet.write(r, c, value)
    book.save(str(ROOT / "county-xls" / f"{table}.xls"))
