// Package workflows checks the GitHub Actions workflows this repository ships for its users
// (.github/workflows) with actionlint, so a broken workflow fails the tests instead of the
// user's nightly job.
package workflows
