"""Study engine: cohort steps, endpoints and analyses from a study definition.

Public entry points (import them from their modules; this package imports nothing heavy):

* :func:`nenstudy.study.runner.run_study` - registry + study file -> results.json, adsl.csv, adtte.csv
* :func:`nenstudy.study.definition.load_study` and :class:`nenstudy.study.definition.StudyDefinitionError`
* :func:`nenstudy.study.sqlcheck.check_expression` - the expression whitelist
* :func:`nenstudy.study.results.validate_results` - the results.json schema check
"""

__all__: list[str] = []
