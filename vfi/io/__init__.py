"""Media I/O: everything between vfi and video files, image sequences and pipes.

- :mod:`.colour`: the source's pixels to RGB and back, with its matrix and range
- :mod:`.frames`: :class:`~.frames.VideoInfo` and :class:`~.frames.SourceFrame`
- :mod:`.formats`: the one table of video and image formats by extension
- :mod:`.reading`: demux and decode (:class:`~.reading.VideoReader`), tags, HDR10 metadata
- :mod:`.sources`: a job's input (a video file, stdin, numbered images)
- :mod:`.encoding`: :class:`~.encoding.EncodeOptions`, encoder options, pixel-format choice
- :mod:`.writing`: encode and mux (:class:`~.writing.VideoWriter`), subtitle conversion
- :mod:`.audio`: the output's sound: copied, re-encoded or stretched
- :mod:`.target`: the output target, parsed once from ``-o`` and checked before any work
- :mod:`.sinks`: a job's output (a video file or pipe, numbered images)
"""
