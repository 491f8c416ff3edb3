# Reference values for nenstudy.stats.cox_ph from R survival's coxph, concordance and cox.zph.
#
# Run from the repository root:   Rscript tests/stats/r/make_cox_fixtures.R
# Writes the model inputs to tests/stats/data/cox_<case>.csv (numbers with 17 significant
# digits, so they read back bit-identical) and the results to tests/stats/fixtures/cox_<case>.json.
# Needs: R >= 4, survival (3.5.x used for the committed fixtures), jsonlite.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

data_dir <- "tests/stats/data"
fixture_dir <- "tests/stats/fixtures"
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
dir.create(fixture_dir, showWarnings = FALSE, recursive = TRUE)

write_input <- function(df, path) {
  out <- df
  for (nm in names(out)) {
    v <- out[[nm]]
    if (is.factor(v)) {
      out[[nm]] <- ifelse(is.na(v), "", as.character(v))
    } else if (is.logical(v)) {
      out[[nm]] <- ifelse(is.na(v), "", ifelse(v, "TRUE", "FALSE"))
    } else if (is.numeric(v)) {
      out[[nm]] <- ifelse(is.na(v), "", sprintf("%.17g", v))
    } else {
      out[[nm]] <- ifelse(is.na(v), "", as.character(v))
    }
  }
  write.csv(out, path, row.names = FALSE, quote = TRUE, na = "")
}

named <- function(x) as.list(setNames(as.numeric(x), names(x)))

run_case <- function(name, df, duration, event, covariates, strata = NULL,
                     ties = c("efron", "breslow"), data_name = name) {
  csv <- file.path(data_dir, paste0("cox_", data_name, ".csv"))
  if (data_name == name) write_input(df, csv)
  rhs <- paste(sprintf("`%s`", covariates), collapse = " + ")
  if (length(strata)) rhs <- paste(rhs, "+", sprintf("strata(%s)", paste(sprintf("`%s`", strata), collapse = ", ")))
  fml <- as.formula(sprintf("Surv(`%s`, `%s`) ~ %s", duration, event, rhs))
  factors <- list()
  for (cv in covariates) if (is.factor(df[[cv]])) factors[[cv]] <- levels(df[[cv]])
  for (tie in ties) {
    warns <- character(0)
    fit <- withCallingHandlers(
      coxph(fml, data = df, ties = tie),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      }
    )
    s <- summary(fit)
    cf <- s$coefficients
    ci <- s$conf.int
    nabeta <- !is.na(coef(fit))
    df_test <- sum(nabeta)
    zph <- tryCatch({
      z <- suppressWarnings(cox.zph(fit))$table
      list(terms = rownames(z), chisq = unname(z[, "chisq"]), df = unname(z[, "df"]),
           p = unname(z[, "p"]))
    }, error = function(e) { message("cox.zph failed for ", name, ": ", conditionMessage(e)); NULL })
    res <- list(
      case = name,
      data = csv,
      duration = duration,
      event = event,
      covariates = covariates,
      strata = if (length(strata)) strata else NULL,
      ties = tie,
      factors = if (length(factors)) factors else NULL,
      r_version = paste(R.version$major, R.version$minor, sep = "."),
      survival_version = as.character(packageVersion("survival")),
      terms = rownames(cf),
      coef = unname(cf[, "coef"]),
      se = unname(cf[, "se(coef)"]),
      z = unname(cf[, "z"]),
      p = unname(cf[, "Pr(>|z|)"]),
      hazard_ratio = unname(ci[, "exp(coef)"]),
      lower = unname(ci[, 3]),
      upper = unname(ci[, 4]),
      loglik = unname(fit$loglik),
      iter = fit$iter,
      n = fit$n,
      nevent = fit$nevent,
      n_dropped = length(fit$na.action),
      logtest = unname(s$logtest),
      waldtest = c(unname(fit$wald.test), df_test,
                   pchisq(unname(fit$wald.test), df_test, lower.tail = FALSE)),
      sctest = unname(s$sctest),
      concordance = unname(s$concordance),
      zph = zph,
      warnings = warns
    )
    out <- file.path(fixture_dir, sprintf("cox_%s_%s.json", name, tie))
    writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, null = "null", na = "string",
                      pretty = TRUE), out)
    cat("wrote", out, if (length(warns)) paste("[warnings:", paste(warns, collapse = " | "), "]"), "\n")
  }
}

# ---- public datasets from the survival package -------------------------------------------
vet <- survival::veteran
run_case("veteran", vet, "time", "status",
         c("trt", "celltype", "karno", "diagtime", "age", "prior"))
run_case("veteran_strata", vet, "time", "status", c("trt", "karno", "age"),
         strata = "celltype", data_name = "veteran")
run_case("veteran_single", vet, "time", "status", c("karno"), data_name = "veteran")

lung <- survival::lung          # status 1 = censored, 2 = dead (kept as is: Surv reads 1/2)
run_case("lung", lung, "time", "status", c("age", "sex", "ph.ecog"))
lung_inst <- lung[, c("time", "status", "age", "ph.karno", "inst")]
lung_inst$inst <- ifelse(is.na(lung_inst$inst), NA, sprintf("i%02d", lung_inst$inst))
run_case("lung_inst_strata", lung_inst, "time", "status", c("age", "ph.karno"),
         strata = "inst")

ova <- survival::ovarian
run_case("ovarian", ova, "futime", "fustat", c("age", "resid.ds", "rx", "ecog.ps"))

col <- subset(survival::colon, etype == 2)
run_case("colon", col, "time", "status", c("rx", "sex", "age", "obstruct", "nodes", "differ"))

pbc <- survival::pbc[1:312, ]
pbc$death <- as.integer(pbc$status == 2)
pbc$logbili <- log(pbc$bili)
run_case("pbc", pbc, "time", "death", c("age", "sex", "edema", "logbili", "albumin", "protime"))

# ---- tie-heavy synthetic registry-like data (whole days) ---------------------------------
set.seed(20240611)
n <- 3000
ties_df <- data.frame(
  grade = factor(sample(c("G1", "G2", "G3"), n, replace = TRUE, prob = c(0.3, 0.4, 0.3))),
  metastatic = sample(c(TRUE, FALSE), n, replace = TRUE),
  age = round(rnorm(n, 63, 11), 1),
  ki67 = round(runif(n, 1, 95)),
  centre = sprintf("C%02d", sample(1:12, n, replace = TRUE))
)
lin <- 0.4 * (ties_df$grade == "G2") + 0.9 * (ties_df$grade == "G3") +
  0.5 * ties_df$metastatic + 0.02 * (ties_df$age - 63) + 0.01 * ties_df$ki67
event_day <- ceiling(rexp(n, exp(lin) / 200))
censor_day <- ceiling(runif(n, 1, 400))
ties_df$days <- pmin(event_day, censor_day)
ties_df$death <- as.integer(event_day <= censor_day)
ties_df$age[sample(n, 150)] <- NA
ties_df$metastatic[sample(n, 40)] <- NA
run_case("tieheavy", ties_df, "days", "death", c("grade", "metastatic", "age", "ki67"))
run_case("tieheavy_strata", ties_df, "days", "death", c("grade", "metastatic", "age", "ki67"),
         strata = "centre", data_name = "tieheavy")

# months computed two ways differ by an ulp: coxph's timefix merges them into ties
months_df <- vet[, c("time", "status", "karno", "age")]
months_df$months <- ifelse(seq_len(nrow(months_df)) %% 2 == 0,
                           months_df$time / 30.4375, months_df$time * (1 / 30.4375))
run_case("nearties", months_df, "months", "status", c("karno", "age"))

# ---- edge cases ---------------------------------------------------------------------------
set.seed(7)
mono <- data.frame(
  time = ceiling(rexp(60, 1 / 50)),
  x = round(rnorm(60), 3),
  group = factor(rep(c("A", "B", "C"), each = 20))
)
mono$event <- as.integer(runif(60) < 0.7)
mono$event[mono$group == "C"] <- 0L          # a group with no events -> infinite coefficient
run_case("monotone", mono, "time", "event", c("x", "group"))

set.seed(11)
alltied <- data.frame(time = c(rep(10, 25), rep(c(10, 20), c(5, 10))),
                      event = c(rep(1L, 25), rep(0L, 15)),
                      x = round(rnorm(40), 3), z = rbinom(40, 1, 0.5))
run_case("alltied", alltied, "time", "event", c("x", "z"))

set.seed(3)
sing <- data.frame(time = ceiling(rexp(80, 1 / 30)), event = rbinom(80, 1, 0.7),
                   x1 = round(rnorm(80), 3))
sing$x2 <- 2 * sing$x1 + 1
sing$w <- round(runif(80), 3)
run_case("singular", sing, "time", "event", c("x1", "w", "x2"))

set.seed(21)
one <- data.frame(time = ceiling(runif(30, 1, 100)), event = 0L, x = round(rnorm(30), 3),
                  flag = sample(c(TRUE, FALSE), 30, replace = TRUE))
one$event[which.min(one$time) + 0] <- 1L       # a single event
run_case("one_event", one, "time", "event", c("x", "flag"))

set.seed(22)
sne <- data.frame(time = ceiling(rexp(90, 1 / 40)), event = rbinom(90, 1, 0.6),
                  x = round(rnorm(90), 3), centre = rep(c("a", "b", "c"), each = 30))
sne$event[sne$centre == "c"] <- 0L             # a stratum without events
sne$flag <- sample(c(TRUE, FALSE, NA), 90, replace = TRUE, prob = c(0.45, 0.45, 0.1))
sne$stage <- factor(sample(c("I", "II", "III"), 90, replace = TRUE), levels = c("I", "II", "III", "IV"))
run_case("stratum_no_events", sne, "time", "event", c("x", "flag", "stage"), strata = "centre")
