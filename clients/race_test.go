//go:build race && unix

package clients_test

func init() { raceEnabled = true }
