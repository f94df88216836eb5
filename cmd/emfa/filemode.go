package main

import (
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/store/sqlite"
)

// storageWarnings are the findings about the store's files that emfa check and serve
// report: a SQLite database (or its directory) other users may read.
func storageWarnings(cfg *config.Config) []string {
	if cfg.Storage.Driver != "sqlite" {
		return nil
	}
	return sqlite.FileModeWarnings(cfg.Storage.DSN.Reveal())
}
