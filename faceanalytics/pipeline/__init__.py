"""The pipeline: provider answers and files into the raw archive, then into the tables.

* :mod:`.fetch` -- ids to provider calls, each answer journalled as it arrives
  (:mod:`._journal`), quota counted before each send;
* :mod:`.receive` -- the callback receiver (sign checked, journalled the same way);
* :mod:`.ingest` -- lines to the archive, flattened, landed atomically; ``rebuild``;
  it reads files in chunks (:mod:`._chunks`) and turns rows into Arrow (:mod:`._rows`);
* :mod:`.media` -- will-file downloads, decrypted (:mod:`faceanalytics.crypto`);
* :mod:`.pii` -- personal data masked in every table the store writes.

It sits between the clients and flatteners (which it calls) and storage (which it
writes); nothing below imports it.
"""
