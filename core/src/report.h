/*
 * report: `volley report`, one self-contained HTML page from a result file
 * (result_read.h). The tables are written here as HTML (readable without
 * script); the charts are SVG drawn in the page by core/report/report.js
 * from the data this module puts into a <script type="application/json">
 * element. The page's template, script and style are compiled into the
 * binary (cmake/embed.cmake), and its Content-Security-Policy forbids any
 * request: it works offline and sends nothing anywhere.
 */
#ifndef VOLLEY_REPORT_H
#define VOLLEY_REPORT_H

#include <stddef.h>

/* Writes the report of result_path to html_path; with baseline_path, a
 * comparison section against that result (compare.h, noise 5%).
 * 0, or -1 with err. */
int report_write(const char *result_path, const char *html_path, const char *baseline_path, char *err,
                 size_t errcap);

/* The same with the comparison's noise allowance in percent (compare.h). */
int report_write_noise(const char *result_path, const char *html_path, const char *baseline_path,
                       double noise_pct, char *err, size_t errcap);

/* The default page name for a result file: its name without .gz and its
 * extension, plus .html (malloc'd, NULL when out of memory). */
char *report_default_path(const char *result_path);

/* A fresh empty file for `volley run --report` without --result, in
 * $TMPDIR or /tmp: its path into buf. 0, or -1. */
int report_temp_result(char *buf, size_t cap);

/* volley report RESULT [-o FILE] [--baseline OLD] [--noise PCT] */
int report_main(int argc, char **argv);

#endif
