package sidecar

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// inputRoots are the directories an admin Load may read files under
// (Options.AdminInputRoots), cleaned and with symbolic links resolved.
type inputRoots []string

// newInputRoots resolves the configured roots; a root that does not exist
// or is not a directory is an error naming it.
func newInputRoots(dirs []string) (inputRoots, error) {
	var (
		out  inputRoots
		errs []error
	)
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			errs = append(errs, fmt.Errorf("AdminInputRoots[%d] %q: must be an absolute directory", i, d))
			continue
		}
		r, err := filepath.EvalSymlinks(d)
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(r); err == nil && !fi.IsDir() {
				err = errors.New("not a directory")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("AdminInputRoots[%d] %q: %v", i, d, unwrapPathError(err)))
			continue
		}
		out = append(out, filepath.Clean(r))
	}
	return out, errors.Join(errs...)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r inputRoots) contains(path string) bool {
	for _, root := range r {
		if path == root || strings.HasPrefix(path, root+string(filepath.Separator)) || root == string(filepath.Separator) {
			return true
		}
	}
	return false
}

func (r inputRoots) String() string { return strings.Join(r, ", ") }

// resolve returns the file an admin Load may read for path, with symbolic
// links resolved, or a message for the user. A path outside the roots is
// refused before the file system is asked anything about it, and a path
// inside that does not resolve, or resolves outside the roots, gets one
// message, so the answers never tell whether a file outside the roots
// exists.
func (r inputRoots) resolve(path string) (string, string) {
	outside := fmt.Sprintf("%s is not under the sidecar's admin input roots (%s): copy the file there, or add a root with hotcold serve --admin-input-root DIR (admin.input_roots in the config)", path, r)
	clean := filepath.Clean(path)
	if !r.contains(clean) {
		return "", outside
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil || !r.contains(real) {
		return "", fmt.Sprintf("%s: no such file under the admin input roots (%s), or it links outside them", path, r)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Sprintf("%s: %v", path, unwrapPathError(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Sprintf("%s is not a regular file", path)
	}
	return real, ""
}
