"""The learned half of the danger check: a small logistic model over hashed words, word pairs
and letter runs, trained by `python -m gateway.mail.danger.train` on labelled resident
messages and shipped as `weights.bin` inside the package (no download, CPU only, pure Python
at run time). gateway.mail.urgency combines it with the clause rules; nothing else imports it."""
