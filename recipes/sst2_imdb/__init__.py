"""Reproduce BERT2DNN's public experiment: SST-2 teachers → IMDB transfer set → students (FFN, BiLSTM).

    make data && make reproduce          # or: python -m recipes.sst2_imdb --config ...

Every step is a library stage (finetune, label, train, evaluate) run with its own typed config;
each one skips work it already finished, so re-running the command resumes. The report —
``benchmarks/results/sst2_imdb.md``, ``sst2_imdb.json`` and two PNG plots — is regenerated
from the run directory at the end. Every accuracy is on ``sst2/test.tsv`` (GLUE SST-2 dev),
which nothing else touches: teachers select epochs on ``sst2/dev.tsv``, students too.

``config`` (ReproduceConfig), ``run`` (inputs, teachers, labeling, students, evaluation),
``variants`` (the students to train), ``report`` (the Markdown report and its plots) and
``__main__`` (the command line).
"""
