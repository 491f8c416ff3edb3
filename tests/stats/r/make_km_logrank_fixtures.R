# Golden values for nenstudy.stats (Kaplan-Meier, log-rank, binomial CIs) from R survival.
#
# Run from the repository root:  Rscript tests/stats/r/make_km_logrank_fixtures.R
# Needs R >= 4 and the survival package (3.5.x was used); no other package: JSON is
# written by hand with 17 significant digits.  Inputs: the survival package's datasets
# (exported here to tests/stats/fixtures/km_inputs/*.csv so that Python reads exactly the
# same rows) and the hand-made edge cases already in that folder.  Outputs:
# tests/stats/fixtures/km_<case>.json, logrank_<case>.json and binom_ci.json.
suppressPackageStartupMessages(library(survival))

inputs <- "tests/stats/fixtures/km_inputs"
outdir <- "tests/stats/fixtures"

# ---- minimal JSON writer -------------------------------------------------------------
num <- function(x) {
  ifelse(is.na(x) & !is.nan(x), "null",
    ifelse(is.nan(x), "null",
      ifelse(is.infinite(x), ifelse(x > 0, "\"Inf\"", "\"-Inf\""), sprintf("%.17g", x))))
}
to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (!is.null(names(x))) {
      body <- mapply(function(k, v) paste0("\"", k, "\": ", to_json(v)), names(x), x)
      return(paste0("{", paste(body, collapse = ", "), "}"))
    }
    return(paste0("[", paste(vapply(x, to_json, ""), collapse = ", "), "]"))
  }
  if (is.character(x) || is.factor(x)) {
    vals <- paste0("\"", as.character(x), "\"")
  } else if (is.logical(x)) {
    vals <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else {
    vals <- num(as.numeric(x))
  }
  if (length(x) == 1 && is.null(attr(x, "array"))) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}
arr <- function(x) { x <- as.vector(x); attr(x, "array") <- TRUE; x }
write_json <- function(obj, file) writeLines(to_json(obj), file.path(outdir, file))

# ---- export the survival package's datasets as the test inputs ------------------------
export <- function(df, name) {
  write.csv(df, file.path(inputs, paste0(name, ".csv")), row.names = FALSE)
}
v <- survival::veteran
export(data.frame(time = v$time, status = v$status, group = v$trt, strata = v$celltype,
                  score = as.integer(cut(v$karno, c(0, 40, 60, 80, 100)))), "veteran")
l <- survival::lung
l <- l[!is.na(l$ph.ecog), ]
export(data.frame(time = l$time, status = l$status - 1, group = l$sex, strata = l$ph.ecog,
                  score = as.integer(cut(l$age, c(0, 55, 65, 75, 100)))), "lung")
o <- survival::ovarian
export(data.frame(time = o$futime, status = o$fustat, group = o$rx, strata = o$resid.ds), "ovarian")
cd <- survival::colon[survival::colon$etype == 2, ]
export(data.frame(time = cd$time, status = cd$status, group = as.character(cd$rx),
                  strata = cd$sex, score = as.integer(cd$rx)), "colon")
p <- survival::pbc[!is.na(survival::pbc$trt), ]
export(data.frame(time = p$time, status = as.integer(p$status == 2), group = p$trt,
                  strata = p$edema, score = p$stage), "pbc")
a <- survival::aml
export(data.frame(time = a$time, status = a$status, group = as.character(a$x)), "aml")

# ---- near-tied times (R's timefix / aeqSurv merges them) -------------------------------
# Written with 17 significant digits (write.csv keeps 15, which would erase the near-ties).
export17 <- function(df, name) {
  df$time <- sprintf("%.17g", df$time)
  write.csv(df, file.path(inputs, paste0(name, ".csv")), row.names = FALSE, quote = FALSE)
}
# veteran's days as months by two arithmetics: days / 30.4375 and days / 365.25 * 12
# (they differ in the last bit for 29 of the 101 distinct days)
v <- survival::veteran
months <- ifelse(seq_len(nrow(v)) %% 2 == 0, v$time / 30.4375, v$time / 365.25 * 12)
export17(data.frame(time = months, status = v$status, group = v$trt, strata = v$celltype,
                    score = as.integer(cut(v$karno, c(0, 40, 60, 80, 100)))), "nearties_months")
# tenths as a running sum of 0.1 (0.1 + 0.2 != 0.3) or as k / 10
set.seed(20240611)
k <- sample(1:25, 120, replace = TRUE)
summed <- vapply(k, function(j) { s <- 0; for (i in seq_len(j)) s <- s + 0.1; s }, 0)
export17(data.frame(time = ifelse(seq_along(k) %% 3 == 0, k / 10, summed),
                    status = rbinom(120, 1, 0.7), group = sample(c("a", "b", "c"), 120, TRUE),
                    strata = sample(1:2, 120, TRUE), score = sample(1:3, 120, TRUE)),
         "nearties_tenths")
# a chain of relative gaps of 1e-8 (each a tie, the run spans 5e-8), an absolute near-tie at
# zero (0 and 1e-9) and a gap of 1e-7 relative that is not a tie
chain <- c(0, 1e-9, 2, 2, 5, 5 * (1 + 1e-8), 5 * (1 + 2e-8), 5 * (1 + 3e-8), 5 * (1 + 4e-8),
           7, 7 * (1 + 1e-7), 9, 11, 11 + 1e-12, 13, 15)
chain <- rep(chain, 3)
export17(data.frame(time = chain, status = rep(c(1, 0, 1, 1, 0, 1), 8),
                    group = rep(c(1, 2), 24), strata = rep(1:3, each = 16)), "nearties_chain")

cases <- c("nearties_months", "nearties_tenths", "nearties_chain", "veteran", "lung", "ovarian", "colon", "pbc", "aml", "tieheavy",
           "ties_event_censor", "all_censored", "one_event", "median_not_reached",
           "flat_half_midpoint", "flat_half_to_end", "group_no_events", "n1_event",
           "n1_censored", "time_zero", "all_events")

probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)

km_case <- function(d) {
  out <- list()
  for (ct in c("log-log", "log", "plain")) {
    fit <- survfit(Surv(time, status) ~ 1, data = d, conf.type = ct)
    q <- quantile(fit, probs)
    qmed <- quantile(fit, 0.5)
    span <- range(d$time)
    at <- sort(unique(c(0, signif(quantile(d$time, c(0.1, 0.33, 0.5, 0.8)), 6),
                        d$time[1], span[2], span[2] * 1.5 + 1)))
    s_ext <- summary(fit, times = at, extend = TRUE)
    kept <- at[at <= max(fit$time)]
    s_noext <- summary(fit, times = kept, extend = FALSE)
    taus <- sort(unique(c(max(fit$time), signif(stats::median(d$time), 6), max(fit$time) * 1.25)))
    taus <- taus[taus >= min(fit$time)]
    rm <- lapply(taus, function(tau) {
      tab <- summary(fit, rmean = tau)$table
      list(tau = tau, estimate = unname(tab["rmean"]), std_err = unname(tab["se(rmean)"]))
    })
    rev <- survfit(Surv(time, 1 - status) ~ 1, data = d, conf.type = ct)
    fu <- quantile(rev, 0.5)
    out[[ct]] <- list(
      n = fit$n, events = sum(fit$n.event),
      table = list(time = arr(fit$time), n_risk = arr(fit$n.risk), n_event = arr(fit$n.event),
                   n_censor = arr(fit$n.censor), survival = arr(fit$surv),
                   std_err_log = arr(fit$std.err), lower = arr(fit$lower), upper = arr(fit$upper)),
      quantile = list(probs = arr(probs), estimate = arr(q$quantile), lower = arr(q$lower),
                      upper = arr(q$upper)),
      median = list(estimate = unname(qmed$quantile), lower = unname(qmed$lower),
                    upper = unname(qmed$upper)),
      survival_at_extend = list(times = arr(at), time = arr(s_ext$time), n_risk = arr(s_ext$n.risk),
                                n_event = arr(s_ext$n.event), survival = arr(s_ext$surv),
                                std_err = arr(s_ext$std.err), lower = arr(s_ext$lower),
                                upper = arr(s_ext$upper)),
      survival_at = list(times = arr(kept), time = arr(s_noext$time), n_risk = arr(s_noext$n.risk),
                         n_event = arr(s_noext$n.event), survival = arr(s_noext$surv),
                         std_err = arr(s_noext$std.err), lower = arr(s_noext$lower),
                         upper = arr(s_noext$upper)),
      rmst = rm,
      follow_up = list(median = unname(fu$quantile), lower = unname(fu$lower), upper = unname(fu$upper))
    )
  }
  out
}

logrank_case <- function(d) {
  res <- list()
  if (!("group" %in% names(d)) || length(unique(d$group)) < 2) return(res)
  d$group <- as.character(d$group)
  for (rho in c(0, 1)) {
    for (stratified in c(FALSE, TRUE)) {
      if (stratified && !("strata" %in% names(d))) next
      f <- if (stratified) Surv(time, status) ~ group + strata(strata) else Surv(time, status) ~ group
      sd <- suppressWarnings(survdiff(f, data = d, rho = rho))
      obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
      ex <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
      groups <- sub("^group=", "", names(sd$n))
      entry <- list(rho = rho, stratified = stratified, groups = arr(groups),
                    statistic = sd$chisq, df = length(obs[ex > 0]) - 1, p_value = sd$pvalue,
                    observed = arr(obs), expected = arr(ex), variance = arr(sd$var),
                    n = arr(as.vector(sd$n)))
      if ("score" %in% names(d) && rho == 0) {
        # test for trend: U = sum s (O - E), V = s' Var s, chi2 = U^2 / V on 1 df,
        # using survdiff's own O, E and variance with groups defined by the score.
        g2 <- as.character(d$score)
        ft <- if (stratified) Surv(time, status) ~ g2 + strata(strata) else Surv(time, status) ~ g2
        dd <- d; dd$g2 <- g2
        st <- survdiff(ft, data = dd)
        sc <- as.numeric(sub("^g2=", "", names(st$n)))
        o2 <- if (is.matrix(st$obs)) rowSums(st$obs) else st$obs
        e2 <- if (is.matrix(st$exp)) rowSums(st$exp) else st$exp
        u <- sum(sc * (o2 - e2))
        vv <- as.numeric(t(sc) %*% st$var %*% sc)
        entry$trend <- list(scores = arr(sc), statistic = u^2 / vv,
                            p_value = pchisq(u^2 / vv, 1, lower.tail = FALSE), u = u, variance = vv)
      }
      res[[length(res) + 1]] <- entry
    }
  }
  res
}

for (case in cases) {
  d <- read.csv(file.path(inputs, paste0(case, ".csv")))
  write_json(list(case = case, r_version = R.version.string,
                  survival_version = as.character(packageVersion("survival")),
                  km = km_case(d)), paste0("km_", case, ".json"))
  lr <- logrank_case(if ("score" %in% names(d)) d[!is.na(d$score), ] else d)
  if (length(lr)) {
    write_json(list(case = case, score_rows = "rows with missing score dropped", tests = lr),
               paste0("logrank_", case, ".json"))
  }
}

# ---- binomial confidence intervals -----------------------------------------------------
grid <- expand.grid(k = c(0, 1, 3, 7, 20, 50), n = c(1, 10, 20, 50, 173), level = c(0.95, 0.9))
grid <- grid[grid$k <= grid$n, ]
rows <- lapply(seq_len(nrow(grid)), function(i) {
  k <- grid$k[i]; n <- grid$n[i]; lev <- grid$level[i]
  ex <- binom.test(k, n, conf.level = lev)$conf.int
  wi <- suppressWarnings(prop.test(k, n, conf.level = lev, correct = FALSE)$conf.int)
  list(k = k, n = n, conf_level = lev, exact = arr(c(ex[1], ex[2])), wilson = arr(c(wi[1], wi[2])))
})
write_json(list(r_version = R.version.string, cases = rows), "binom_ci.json")
cat("fixtures written to", outdir, "\n")
