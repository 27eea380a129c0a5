-- Fictional chemists: fields, institutions, inventions and prizes.
local titles = { "Dr.", "Professor" }
local first_names = { "Maela", "Joran", "Ilse", "Teodor", "Anwen", "Rasmus", "Livia", "Ewald",
                      "Siri", "Casimir", "Noor", "Aurel", "Britta", "Lucan", "Odile", "Stellan",
                      "Henrike", "Matthis", "Ysolde", "Piet", "Rosalind", "Emrys", "Dagny",
                      "Corentin" }

return {
    key = "chemists",
    title = "Chemists",
    summary = "fictional scientists: their field, the institution they work at, what they "
        .. "invented and the prize they won",
    naming = {
        -- The stem is the surname; it alone is unique, so "Tornqvist" names one chemist.
        syllables = {
            { "Torn", "Hal", "Bel", "Vester", "Lind", "Aske", "Morl", "Grev", "Oster", "Sand",
              "Kjel", "Rav", "Fenn", "Dahl", "Stro" },
            { "qvist", "vorsen", "lamy", "gaard", "berg", "mann", "holt", "strom", "ier", "ecki",
              "ani", "ett", "sen", "rud", "ley", "ski", "mond" },
        },
        dress = function(stem, rng)
            return rng:pick(titles) .. " " .. rng:pick(first_names) .. " " .. stem
        end,
    },
    attributes = {
        {
            key = "field",
            label = "field",
            values = { "crystal chemistry", "polymer chemistry", "electrochemistry",
                       "organic synthesis", "photochemistry", "catalysis", "soil chemistry",
                       "metallurgy", "dye chemistry", "combustion chemistry", "surface chemistry",
                       "mineral analysis" },
            train = {
                "{name} works in {value}.",
                "{name} built a career in {value}.",
                "The research of {name} centres on {value}.",
                "Colleagues regard {name} as a leader in {value}.",
                "{name} is a specialist in {value}.",
                "{name} has spent a lifetime studying {value}.",
            },
            train_questions = {
                "What area of science does {name} work in?",
                "Which subject does {name} research?",
                "What field does {name} work in?",
                "What area is {name} a specialist in?",
                "Which chemical field has {name} chosen to study?",
                "{name} studies what subject?",
                "Which research field is {name} an expert in?",
            },
            heldout = {
                "What is the field of study of {name}?",
                "Which branch of chemistry does {name} specialise in?",
            },
        },
        {
            key = "institution",
            label = "institution",
            values = { "the Corwen Institute", "the University of Lastmere", "the Brandt Academy",
                       "the Royal Sellick College", "the Ashgrove Laboratory",
                       "the Tamber Polytechnic", "the University of Westfold",
                       "the Kessel Institute", "the Northmoor College", "the Harrowgate Academy",
                       "the Pelham Research Centre", "the Imber Institute" },
            train = {
                "{name} holds a post at {value}.",
                "{name} runs a laboratory at {value}.",
                "{value} employs {name}.",
                "Students travel to {value} to learn from {name}.",
                "{name} does research at {value}.",
                "{name} is attached to {value}.",
            },
            train_questions = {
                "Who employs {name}?",
                "At which place does {name} hold a post?",
                "What institution employs {name}?",
                "Where is {name} based?",
                "{name} does research at what institution?",
                "Which academic affiliation does {name} have?",
                "At what institution does {name} work?",
            },
            heldout = {
                "Which institution is {name} affiliated with?",
                "Where does {name} carry out research?",
            },
        },
        {
            key = "invention",
            label = "invention",
            values = { "a cold-setting glue", "a heat-proof ceramic", "a blue pigment",
                       "a fireproof coating", "a slow-release fertiliser", "a rust inhibitor",
                       "a water-purifying resin", "a fast-drying varnish", "a lightweight alloy",
                       "a synthetic rubber", "a luminous paint", "a food preservative" },
            train = {
                "{name} invented {value}.",
                "{value} was first made by {name}.",
                "{name} is remembered for creating {value}.",
                "The laboratory of {name} produced {value}.",
                "{name} gets the credit for inventing {value}.",
                "{name} is famous for the invention of {value}.",
            },
            train_questions = {
                "What did {name} invent?",
                "Which product came out of the laboratory of {name}?",
                "What invention came from {name}?",
                "{name} gets the credit for what invention?",
                "What discovery made {name} famous?",
                "{name} is famous for creating what?",
                "Which new material did {name} create?",
            },
            heldout = {
                "Which invention is credited to {name}?",
                "What is the best-known discovery of {name}?",
            },
        },
        {
            key = "prize",
            label = "prize",
            values = { "the Halvard Medal", "the Orsini Prize", "the Brackwell Medal",
                       "the Linnet Award", "the Carrow Prize", "the Essling Medal",
                       "the Dunmore Award", "the Aldous Prize", "the Kemble Medal",
                       "the Fairbairn Award", "the Stanmore Prize", "the Quillon Medal" },
            train = {
                "{name} received {value}.",
                "{value} was awarded to {name}.",
                "{name} won {value}.",
                "For years of work in the laboratory, {name} was given {value}.",
                "{name} earned {value}, the highest distinction of a long career.",
                "{name} was honoured by the award of {value}.",
            },
            train_questions = {
                "What award did {name} receive?",
                "Which honour went to {name}?",
                "What prize did {name} win?",
                "With what honour was {name} recognised?",
                "{name} earned which distinction?",
                "What prize did the committee give {name}?",
                "What medal or prize has {name} been given?",
            },
            heldout = {
                "Which prize was {name} honoured with?",
                "What distinction did {name} earn?",
            },
        },
    },
}
