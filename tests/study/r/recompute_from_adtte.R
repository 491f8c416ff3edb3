# Recompute the survival figures of results.json from analysis/adtte.csv with R survival.
# Usage: Rscript recompute_from_adtte.R adtte.csv spec.json out.json
# spec.json: {"conf_type": "log-log", "conf_level": 0.95, "ties": "efron",
#             "groupings": {"ecog_group": ["0-1", "2-4"], ...},
#             "stratified": {"OS": ["ecog_group", ...], "PFS": [...]},
#             "cox": {"OS": ["age", "ecog_group", ...], ...}}
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
spec <- fromJSON(args[2], simplifyVector = FALSE)
for (g in names(spec$groupings)) {
  if (g %in% names(d)) d[[g]] <- factor(d[[g]], levels = unlist(spec$groupings[[g]]))
}
out <- list()
for (p in c("OS", "PFS")) {
  x <- d[d$PARAMCD == p & !is.na(d$AVAL), ]
  res <- list(n = nrow(x), events = sum(1 - x$CNSR))
  if (nrow(x) > 0) {
    fit <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = x, conf.type = spec$conf_type,
                   conf.int = spec$conf_level)
    q <- quantile(fit, 0.5)
    res$median <- unname(q$quantile); res$lower <- unname(q$lower); res$upper <- unname(q$upper)
    s <- summary(fit, times = 12)
    res$surv12 <- if (length(s$surv)) s$surv else NA
    res$logrank <- list()
    for (g in unlist(spec$stratified[[p]])) {
      y <- x[!is.na(x[[g]]), ]
      y[[g]] <- droplevels(y[[g]])
      if (nlevels(y[[g]]) >= 2) {
        sd <- survdiff(as.formula(paste("Surv(AVAL, 1 - CNSR) ~", g)), data = y)
        res$logrank[[g]] <- list(chisq = sd$chisq, p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))
      }
    }
    covs <- unlist(spec$cox[[p]])
    if (length(covs)) {
      y <- x[complete.cases(x[, covs, drop = FALSE]), ]
      for (g in covs) if (is.factor(y[[g]])) y[[g]] <- droplevels(y[[g]])
      cf <- coxph(as.formula(paste("Surv(AVAL, 1 - CNSR) ~", paste(covs, collapse = " + "))),
                  data = y, ties = spec$ties)
      res$cox <- list(terms = names(coef(cf)), hr = unname(exp(coef(cf))), n = cf$n, events = cf$nevent,
                      concordance = unname(cf$concordance["concordance"]))
    }
  }
  out[[p]] <- res
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), args[3])
