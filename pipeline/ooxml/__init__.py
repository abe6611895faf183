"""The zip package layer: OOXML namespaces (`ns`), the one deterministic zip writer and its time
stamps (`archive`). The DOCX and XLSX writers, the harvest readers, the pack and selection zips
and the download page's streamed zip all use these; nothing else retypes a namespace or a zip
entry's attributes."""
