// The sign-in confirmation page: take the token out of the address bar and out of this history entry, so
// it is not shown, bookmarked or found in the history once the person has seen the page.
"use strict";

if (window.location.search) window.history.replaceState(null, "", window.location.pathname);
