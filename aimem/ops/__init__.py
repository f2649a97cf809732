"""Operations on files and bundles: import and export, archive segments, backup and restore, cleanup and checks, sync, repository set-up."""
