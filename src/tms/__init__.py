"""Track My Service: follow government document applications from lodging to collection."""
