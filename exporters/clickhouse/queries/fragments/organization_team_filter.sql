-- The console's filters, after a WHERE: one organization and one team, an empty parameter meaning all.
AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
AND ({team:String} = '' OR team = {team:String})
