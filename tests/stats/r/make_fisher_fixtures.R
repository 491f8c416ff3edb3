# Golden p-values of Fisher's exact test for r x c tables (R stats::fisher.test, FEXACT).
#
# Run from the repository root:  Rscript tests/stats/r/make_fisher_fixtures.R
# Needs only base R (4.2.2 was used).  Output: tests/stats/fixtures/fisher_rxc.json, one
# entry per table: name, nrow, the counts in R's column-major order, the p-value (17
# significant digits) and the seconds R took.  Tables are Table-1 shaped (2 x k, 3 x 4,
# 4 x 3 with n ~ 170) plus sparse and zero-containing ones.
outfile <- "tests/stats/fixtures/fisher_rxc.json"

tables <- list(
  t3x4_n168 = matrix(c(12, 14, 16, 15, 10, 13, 9, 18, 17, 20, 11, 13), 3),
  t4x3_n170 = matrix(c(20, 15, 18, 8, 10, 14, 11, 22, 12, 9, 16, 15), 4),
  t2x5_n170 = matrix(c(20, 17, 15, 22, 18, 16, 12, 25, 20, 5), 2),
  t2x6_n170 = matrix(c(30, 25, 20, 18, 10, 15, 5, 12, 8, 14, 9, 4), 2),
  t3x4_n170_skewed = matrix(c(40, 5, 2, 30, 10, 3, 20, 20, 10, 5, 15, 10), 3),
  t3x5_n120 = matrix(c(10, 8, 6, 9, 7, 11, 5, 9, 8, 12, 6, 7, 4, 10, 8), 3),
  t4x4_n100 = matrix(c(8, 5, 7, 4, 6, 9, 5, 7, 5, 6, 8, 6, 7, 4, 5, 8), 4),
  t5x5_sparse_n40 = matrix(c(3, 0, 1, 0, 2, 0, 4, 1, 0, 1, 1, 0, 3, 1, 0, 0, 2, 0, 5, 1, 2, 1, 0, 1, 4), 5),
  t5x5_sparse_n60 = matrix(c(5, 1, 0, 2, 1, 0, 6, 2, 1, 0, 2, 1, 4, 0, 3, 1, 0, 2, 7, 1, 0, 3, 1, 2, 5), 5),
  t5x5_n100 = matrix(c(6, 3, 4, 2, 5, 4, 5, 3, 6, 2, 3, 4, 5, 3, 4, 5, 2, 4, 6, 3, 2, 6, 3, 4, 5), 5),
  t3x3_zero_row_col = matrix(c(0, 3, 0, 2, 5, 0, 1, 1, 4), 3),
  t2x8_n90 = matrix(c(5, 7, 8, 4, 6, 6, 9, 3, 2, 8, 7, 5, 4, 6, 3, 7), 2),
  t6x3_n150 = matrix(c(10, 8, 9, 7, 12, 5, 8, 10, 6, 9, 7, 11, 6, 9, 8, 7, 5, 3), 6)
)

entries <- character(0)
for (name in names(tables)) {
  m <- tables[[name]]
  elapsed <- system.time(p <- fisher.test(m, workspace = 2e8)$p.value)[["elapsed"]]
  entries <- c(entries, sprintf(
    "  {\"name\": \"%s\", \"nrow\": %d, \"counts\": [%s], \"p_value\": %s, \"r_seconds\": %s}",
    name, nrow(m), paste(as.integer(m), collapse = ", "), sprintf("%.17g", p), sprintf("%.3f", elapsed)))
}
writeLines(c("[", paste(entries, collapse = ",\n"), "]"), outfile)
cat("wrote", outfile, "\n")
