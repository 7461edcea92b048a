package powersync

// SetListPage sets the listing's page size and returns what restores it.
func SetListPage(n int) (restore func()) {
	old := listPage
	listPage = n
	return func() { listPage = old }
}
