//go:build !unix

package accounts

import "os"

// Without flock, writers queue within their process only.
func tryLockFile(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
