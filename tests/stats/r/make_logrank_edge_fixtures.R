# Edge cases of the log-rank test: R survival's survdiff results (or its error) on small data,
# for tests/stats/test_logrank_edges.py. Run from the repository root:
#   Rscript tests/stats/r/make_logrank_edge_fixtures.R
suppressPackageStartupMessages({library(survival); library(jsonlite)})

cases <- list(
  # whole-number times; stratum x ends with everyone dead (its estimate reaches 0)
  negative_rho_emptied_stratum = list(
    time = c(1, 2, 2, 1, 2, 3, 4, 5, 6, 7), status = c(1, 1, 1, 0, 1, 1, 0, 1, 1, 0),
    group = rep(c("a", "b"), 5), strata = c("x", "x", "x", rep("y", 7))),
  # everyone dies at one time: the variance matrix is 0
  all_deaths_at_one_time = list(
    time = rep(5, 6), status = rep(1, 6), group = c("a", "a", "a", "b", "b", "b"),
    strata = rep("x", 6))
)

out <- list()
for (name in names(cases)) {
  d <- as.data.frame(cases[[name]])
  for (rho in c(0, 1, -1)) {
    f <- Surv(time, status) ~ group + strata(strata)
    fit <- tryCatch(survdiff(f, data = d, rho = rho), error = function(e) conditionMessage(e))
    entry <- list(case = name, rho = rho, data = cases[[name]])
    if (is.character(fit)) {
      entry$error <- fit
    } else {
      entry$statistic <- fit$chisq
      entry$p_value <- fit$pvalue
      entry$observed <- as.vector(if (is.matrix(fit$obs)) rowSums(fit$obs) else fit$obs)
      entry$expected <- as.vector(if (is.matrix(fit$exp)) rowSums(fit$exp) else fit$exp)
      entry$variance <- unname(fit$var)
    }
    out[[length(out) + 1]] <- entry
  }
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/stats/fixtures/edge_logrank.json")
