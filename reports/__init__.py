"""Reports leaders read (周报 / 通报 / 专报): hot topics, the units' 红黑榜, the call centre's
figures and repeat callers, aggregated in the database and rendered as HTML, PDF or xlsx.

A reporting package: it reads the tickets, acd and asr tables through SQL (the one package
allowed to), and sits above them and below api and hotline.
"""
